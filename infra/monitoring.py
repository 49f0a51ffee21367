"""Monitoring: alarms on the failure signals, one dashboard, and an optional SNS topic for alarms."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct
from facesvg import names

from infra.api import Api
from infra.config import StackConfig
from infra.notifications import Notifications
from infra.processing import Processing
from infra.storage import Storage

FIVE_MINUTES = cdk.Duration.minutes(5)
GT = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        api: Api,
        processing: Processing,
        notifications: Notifications | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._build_topic(config)
        functions: dict[str, lambda_.IFunction] = {
            "Submit": api.submit,
            "Status": api.status,
            "Ingest": processing.ingest,
            "Process": processing.process,
        }
        if notifications is not None and notifications.notify is not None:
            functions["Notify"] = notifications.notify
        self.alarms: list[cloudwatch.Alarm] = []
        self._build_queue_alarms(config, storage, notifications)
        self._build_function_alarms(processing, functions)
        self._build_api_alarms(config, api.rest_api)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=cdk.Duration.hours(3))
        self.dashboard.add_widgets(
            cloudwatch.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24, height=4)
        )
        self._build_api_and_queue_widgets(api.rest_api, storage)
        self._build_function_widgets(functions)
        self._build_application_widgets()

    def _build_topic(self, config: StackConfig) -> sns.Topic | None:
        if not (config.alarm_email or config.alarm_topic):
            return None
        # CloudWatch can only publish to an encrypted topic whose key lets it: a customer key.
        key = kms.Key(self, "AlarmTopicKey", enable_key_rotation=True, description="facesvg alarm topic")
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        topic = sns.Topic(self, "AlarmTopic", master_key=key, enforce_ssl=True)
        if config.alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        return topic

    def _alarm(
        self, construct_id: str, metric: cloudwatch.IMetric, threshold: float, description: str
    ) -> cloudwatch.Alarm:
        created = cloudwatch.Alarm(
            self,
            construct_id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=GT,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        if self.topic is not None:
            created.add_alarm_action(cw_actions.SnsAction(self.topic))
            created.add_ok_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(created)
        return created

    def _build_queue_alarms(
        self, config: StackConfig, storage: Storage, notifications: Notifications | None
    ) -> None:
        self._alarm(
            "DlqNotEmpty",
            storage.dlq.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            0,
            "Jobs exhausted their retries and sit in the dead-letter queue",
        )
        if notifications is not None:
            self._alarm(
                "NotifyDlqNotEmpty",
                notifications.dlq.metric_approximate_number_of_messages_visible(
                    period=FIVE_MINUTES, statistic="Maximum"
                ),
                0,
                "Webhook deliveries exhausted their retries (make redrive REDRIVE_ARGS=--notify)",
            )
        self._alarm(
            "QueueOldestMessageAge",
            storage.queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES, statistic="Maximum"),
            config.age_of_oldest_message_seconds,
            "Jobs wait too long in the queue (process is failing, throttled or too slow)",
        )

    def _build_function_alarms(self, processing: Processing, functions: dict[str, lambda_.IFunction]) -> None:
        self._alarm(
            "ProcessErrors",
            processing.process.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            0,
            "The process function failed (the job is retried, then dead-lettered)",
        )
        for name, fn in functions.items():
            self._alarm(
                f"{name}Throttles",
                fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                0,
                f"The {name.lower()} function is throttled",
            )
        for name in [n for n in ("Submit", "Status", "Ingest", "Notify") if n in functions]:
            self._alarm(
                f"{name}Errors",
                functions[name].metric_errors(period=FIVE_MINUTES, statistic="Sum"),
                0,
                f"The {name.lower()} function raised (API answers 5xx, or an ingest event is retried)",
            )

    def _build_api_alarms(self, config: StackConfig, rest_api: apigw.RestApi) -> None:
        self._alarm(
            "Api5xx",
            rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
            0,
            "The API answered 5xx",
        )
        self._alarm(
            "ApiLatencyP95",
            rest_api.metric_latency(period=FIVE_MINUTES, statistic="p95"),
            config.api_p95_latency_ms,
            f"p95 API latency above {config.api_p95_latency_ms} ms",
        )

    def _build_api_and_queue_widgets(self, rest_api: apigw.RestApi, storage: Storage) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="API requests and errors",
                left=[
                    rest_api.metric_count(period=FIVE_MINUTES, statistic="Sum"),
                    rest_api.metric_client_error(period=FIVE_MINUTES, statistic="Sum"),
                    rest_api.metric_server_error(period=FIVE_MINUTES, statistic="Sum"),
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="API latency (ms)",
                left=[
                    rest_api.metric_latency(period=FIVE_MINUTES, statistic=s) for s in ("p50", "p95", "p99")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Queue",
                left=[
                    storage.queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                    storage.dlq.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
                ],
                right=[storage.queue.metric_approximate_age_of_oldest_message(period=FIVE_MINUTES)],
                width=8,
            ),
        )

    def _build_function_widgets(self, functions: dict[str, lambda_.IFunction]) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Invocations",
                left=[fn.metric_invocations(period=FIVE_MINUTES, label=n) for n, fn in functions.items()],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Errors",
                left=[fn.metric_errors(period=FIVE_MINUTES, label=n) for n, fn in functions.items()],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Throttles",
                left=[fn.metric_throttles(period=FIVE_MINUTES, label=n) for n, fn in functions.items()],
                width=6,
            ),
            cloudwatch.GraphWidget(
                title="Duration p95 (ms)",
                left=[
                    fn.metric_duration(period=FIVE_MINUTES, statistic="p95", label=n)
                    for n, fn in functions.items()
                ],
                width=6,
            ),
        )

    def _build_application_widgets(self) -> None:
        self.dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title=f"Application metrics ({names.METRICS_NAMESPACE})",
                left=[
                    cloudwatch.Metric(
                        namespace=names.METRICS_NAMESPACE,
                        metric_name=metric_name,
                        dimensions_map={"service": names.SERVICE_NAME},
                        period=FIVE_MINUTES,
                        statistic="Sum",
                    )
                    for metric_name in (
                        "JobsSubmitted",
                        "CacheMisses",
                        "CacheHits",
                        "Duplicates",
                        "JobsCompleted",
                        "Renders",
                    )
                ],
                width=12,
            ),
        )
