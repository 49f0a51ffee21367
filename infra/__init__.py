"""The facesvg CDK app: ``app.py`` plus one construct per concern (storage, api, processing, monitoring).

Every AWS name the code needs (env vars, key and attribute names, prefixes, routes) comes from
``facesvg.names``; CloudFormation names the resources and the stack hands the names over through
those environment variables.
"""
