"""The facesvg stack: storage, api, processing, monitoring, and the cdk-nag acknowledgements that
apply to CDK's own helper resources."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import Construct
from facesvg import names

from infra.api import Api
from infra.config import StackConfig
from infra.functions import function_environment
from infra.layer import FaceSvgLayer
from infra.monitoring import Monitoring
from infra.nag import acknowledge
from infra.notifications import Notifications
from infra.processing import Processing
from infra.storage import Storage

STACK_NAME = "FaceSvg"


class FaceSvgStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: object) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        cdk.Tags.of(self).add("service", names.SERVICE_NAME)

        self.storage = Storage(self, "Storage", config=config)
        self.notifications = Notifications(self, "Notifications", config=config)
        environment = function_environment(
            config,
            {
                "bucket": self.storage.bucket.bucket_name,
                "table": self.storage.table.table_name,
                "queue_url": self.storage.queue.queue_url,
                **self.notifications.resources,
            },
        )
        self.function_env = environment
        self.layer = FaceSvgLayer(self, "Layer").layer
        self.api = Api(
            self, "Api", config=config, storage=self.storage, layer=self.layer, environment=environment
        )
        self.processing = Processing(
            self, "Processing", config=config, storage=self.storage, environment=environment
        )
        self.notifications.add_function(
            storage=self.storage,
            layer=self.layer,
            environment=environment,
            process=self.processing.process,
            submit=self.api.submit,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            storage=self.storage,
            api=self.api,
            processing=self.processing,
            notifications=self.notifications,
        )
        self._outputs()
        self._acknowledgements()

    def _outputs(self) -> None:
        api = self.api.rest_api
        outputs = {
            "ApiUrl": (api.url, "Base URL of the stage; routes: /api/v1/... and /api/v1/frontal/crop/..."),
            "SubmitUrl": (api.url_for_path(names.ROUTE_PREFIXES[0] + names.SUBMIT_PATH), "POST here"),
            "ApiKeyId": (  # the first (default) client's, as before clients existed
                self.api.api_key.key_id,
                "aws apigateway get-api-key --include-value --api-key <id> --query value --output text",
            ),
            "BucketName": (self.storage.bucket.bucket_name, "Data bucket (drop folder: incoming/<name>/)"),
            "TableName": (self.storage.table.table_name, "Jobs and cache table"),
            "QueueUrl": (self.storage.queue.queue_url, "Jobs queue"),
            "DeadLetterQueueUrl": (self.storage.dlq.queue_url, "Jobs that exhausted their retries"),
            "DashboardName": (self.monitoring.dashboard.dashboard_name, "CloudWatch dashboard"),
            "EventBusName": (self.notifications.bus.event_bus_name, "Job-end events (source facesvg)"),
            "EventBusArn": (self.notifications.bus.event_bus_arn, "Attach your own rules here"),
            "NotifyQueueUrl": (self.notifications.queue.queue_url, "Webhook deliveries"),
            "NotifyDeadLetterQueueUrl": (
                self.notifications.dlq.queue_url,
                "Webhook deliveries that exhausted their retries (make redrive REDRIVE_ARGS=--notify)",
            ),
            "WebhookSecretArn": (self.notifications.secret.secret_arn, "Webhook signing secret"),
        }
        # One output per client, named after it (ApiKeyIdQoves, ApiKeyIdAcmeEu): the key's id,
        # never its value (outputs are readable by anyone who can describe the stack).
        for client in self.config.api_clients:
            outputs["ApiKeyId" + client.id_suffix] = (
                self.api.api_keys[client.name].key_id,
                f"API key id of client {client.name}"
                + (" (disabled)" if not client.enabled else "")
                + "; value: aws apigateway get-api-key --include-value --api-key <id> --query value",
            )
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)
        if self.monitoring.topic is not None:
            cdk.CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)

    def _acknowledgements(self) -> None:
        """Findings on resources whose policies CDK writes for us; each with its reason."""
        # Lambda runtime: the project and the layer target CPython 3.11 (pyproject, wheels).
        acknowledge(
            self,
            "AwsSolutions-L1",
            "The zip functions run Python 3.11 on purpose: the layer's wheels are built for "
            "cp311 and the project supports 3.11-3.13; CDK's own helper functions are CDK-managed.",
        )
        # AWSLambdaBasicExecutionRole: CloudWatch Logs write access, the AWS-recommended minimum.
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
            "AWSLambdaBasicExecutionRole only grants writing the function's own logs.",
        )
        acknowledge(
            self,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AmazonAPIGatewayPushToCloudWatchLogs]",
            "The account-level API Gateway logging role (needed for stage execution logs) uses the "
            "AWS-managed policy made for exactly that.",
        )
