"""The AWS adapters (DynamoDB, S3, SQS) behind ``facesvg.service.ports``: the only boto3 users.

They build their clients on first use, translate every AWS error into the service's own
(``aws.errors``) and own the concurrency of multi-object transfers (``aws.s3``).
"""
