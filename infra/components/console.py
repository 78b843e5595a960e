"""Console: the ops console behind Cognito's managed login, served by one Lambda over an HTTP API.

    browser ──HTTPS──▶ HTTP API ($default route) ──▶ console Lambda ──▶ tables, reject reports,
                                                                       Athena (KPIs)
       ▲                                                  │
       └──── Cognito managed login (TOTP MFA) ◀── /auth/login, /auth/callback (PKCE)

Every route reaches the Lambda, which signs people in (functions/console/cognito.py) and decides
on every request what their Cognito groups allow (functions/console/identity.py).
"""

from __future__ import annotations

import jsii
from aws_cdk import Aws, CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from functions.console.identity import Group
from functions.observability import METRICS_NAMESPACE
from functions.plan.stored import PLANS_PREFIX
from functions.settings import ConsoleLambdaSettings
from infra.components.analytics import RESULTS_PREFIX, Analytics
from infra.components.functions import XRAY_REASON, Functions
from infra.components.nag import acknowledge, logical_id
from infra.components.storage import REJECTS_PREFIX, Storage
from infra.stack_config import RungStackConfig

HANDLER = "functions.console.handler.handler"
MEMORY_MB = 512
TIMEOUT = Duration.seconds(15)  # API Gateway's own integration limit is 30 s
# Our choice: the longest a KPIs request waits for Athena. Half the function's timeout, which
# leaves the rest for the sign-in check, reading ten results and rendering; past it the page
# says the figures are being computed and reloads itself.
REPORT_WAIT_SECONDS = 7
# Our choice: finished KPIs are served for an hour before the queries run again. The record
# lags its events by up to five minutes (the Firehose buffer) and the KPIs move by the day;
# each run scans the whole record, so however often the page is opened it costs at most 24
# runs a day. Longer than Athena's default 30-minute query timeout, so a batch has always ended
# before a new one replaces it.
REPORT_FRESH_MINUTES = 60
# Cognito's password policy: NIST SP 800-63B asks for length over composition; cdk-nag's
# AwsSolutions-COG1 also asks for every character class, which costs users little here.
PASSWORD_MIN_LENGTH = 14
TEMPORARY_PASSWORD_DAYS = 3
# Refresh tokens are not used (a session ends with its ID token); Cognito's minimum.
REFRESH_TOKEN_MINUTES = 60
# Access-log fields: who called what and how it ended. No query string (a search by phone
# number or email carries it there) and no headers or cookies.
ACCESS_LOG_FORMAT = apigw.AccessLogFormat.custom(
    '{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",'
    '"requestTime":"$context.requestTime","method":"$context.httpMethod",'
    '"path":"$context.path","status":"$context.status",'
    '"responseLength":"$context.responseLength",'
    '"integrationError":"$context.integrationErrorMessage"}'
)


class Console(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: RungStackConfig,
        storage: Storage,
        functions: Functions,
        analytics: Analytics,
    ) -> None:
        super().__init__(scope, construct_id)
        console = config.console
        stack = Stack.of(self)

        self.user_pool = cognito.UserPool(
            self,
            "Users",
            user_pool_name=f"{stack.stack_name}-console",
            # People are added by an administrator (README); nobody signs themselves up.
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            password_policy=cognito.PasswordPolicy(
                min_length=PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(TEMPORARY_PASSWORD_DAYS),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            feature_plan=(
                cognito.FeaturePlan.PLUS
                if console.threat_protection
                else cognito.FeaturePlan.ESSENTIALS
            ),
            standard_threat_protection_mode=(
                cognito.StandardThreatProtectionMode.FULL_FUNCTION
                if console.threat_protection
                else None
            ),
            deletion_protection=True,
            # The pool holds who may act on borrowers' data; deleting the stack keeps it.
            removal_policy=RemovalPolicy.RETAIN,
        )
        if not console.threat_protection:
            for finding in ("AwsSolutions-COG3", "AwsSolutions-COG8"):
                acknowledge(
                    self.user_pool,
                    finding,
                    "The deployer turned threat protection off in cdk.json (console."
                    "threat_protection) to stay on the Essentials plan; MFA stays required.",
                )
        for group in Group:
            cognito.CfnUserPoolGroup(
                self,
                f"Group{group.value.capitalize()}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group.value,
                description=f"Rung console: {group.value}",
            )

        self.api = apigwv2.HttpApi(
            self,
            "Api",
            api_name=f"{stack.stack_name}-console",
            description="Rung ops console",
            create_default_stage=False,  # the stage below, with access logs and throttling
        )
        self.url = f"https://{self.api.api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/"
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=config.retention.log_retention_days
        )
        self.stage = apigwv2.HttpStage(
            self,
            "Stage",
            http_api=self.api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(
                rate_limit=console.throttle_rate_per_second,
                burst_limit=console.throttle_burst,
            ),
            access_log_settings=_AccessLogs(apigwv2.LogGroupLogDestination(access_logs)),
        )

        domain_prefix = console.domain_prefix or (
            f"{stack.stack_name.lower()}-console-{Aws.ACCOUNT_ID}"
        )
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix),
            managed_login_version=cognito.ManagedLoginVersion.NEWER_MANAGED_LOGIN,
        )
        self.client = self.user_pool.add_client(
            "Client",
            user_pool_client_name="console",
            # A public client: the browser never sees a secret, PKCE binds the code to the
            # Lambda that asked for it.
            generate_secret=False,
            auth_flows=cognito.AuthFlow(),  # no direct password APIs: managed login only
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                callback_urls=[f"{self.url}auth/callback"],
                logout_urls=[self.url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            id_token_validity=Duration.minutes(console.session_minutes),
            access_token_validity=Duration.minutes(console.session_minutes),
            refresh_token_validity=Duration.minutes(REFRESH_TOKEN_MINUTES),
            enable_token_revocation=True,
        )
        # Managed login shows Cognito's own style until a lender brands it.
        cognito.CfnManagedLoginBranding(
            self,
            "LoginStyle",
            user_pool_id=self.user_pool.user_pool_id,
            client_id=self.client.user_pool_client_id,
            use_cognito_provided_values=True,
        )

        self.session_secret = secretsmanager.Secret(
            self,
            "SessionKey",
            description="Rung console: HMAC key of sign-in state and CSRF tokens",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        acknowledge(
            self.session_secret,
            "AwsSolutions-SMG4",
            "The key signs only short-lived sign-in state and form tokens; replacing it by hand "
            "(README) signs everyone out, and a rotation function would add a Lambda for that.",
        )

        self.function = self._function(config, storage, functions, analytics)
        self._grant(storage)
        # The KPIs page (functions/console/outcomes.py) runs the KPI queries in the workgroup.
        analytics.grant_kpi_queries(self.role)
        # One route, `$default`: every path and method goes to the Lambda, which routes it.
        route = apigwv2.HttpRoute(
            self,
            "Pages",
            http_api=self.api,
            route_key=apigwv2.HttpRouteKey.DEFAULT,
            integration=integrations.HttpLambdaIntegration("Lambda", self.function),
        )
        self._acknowledge_public(route)

        CfnOutput(stack, "ConsoleUrl", value=self.url)
        CfnOutput(stack, "ConsoleUserPoolId", value=self.user_pool.user_pool_id)

    def _function(
        self,
        config: RungStackConfig,
        storage: Storage,
        functions: Functions,
        analytics: Analytics,
    ) -> lambda_.Function:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Rung console function: exactly what its pages need, nothing else",
        )
        self.role = role
        log_group = logs.LogGroup(self, "Logs", retention=config.retention.log_retention_days)
        log_group.grant_write(role)
        function = lambda_.Function(
            self,
            "Function",
            runtime=functions.runtime,
            architecture=lambda_.Architecture.X86_64,
            code=functions.code,
            handler=HANDLER,
            description="Rung ops console: pages, sign-in, four-eyes approvals",
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            role=role,
            layers=[functions.layer],
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
            environment=self._environment(config, storage, analytics),
        )
        acknowledge(role, "AwsSolutions-IAM5[Resource::*]", XRAY_REASON)
        acknowledge(
            function,
            "AwsSolutions-L1",
            f"Pinned to python{config.lambda_python}, the runtime the Powertools layer and the "
            "bundled wheels are chosen and tested for; upgrading is one cdk.json value.",
        )
        return function

    def _environment(
        self, config: RungStackConfig, storage: Storage, analytics: Analytics
    ) -> dict[str, str]:
        """The console's settings (functions.settings.ConsoleLambdaSettings), all of them, and
        Powertools'."""
        variables = {
            "RUNG_ACCOUNTS_TABLE": storage.accounts.table_name,
            "RUNG_ACCOUNT_RETENTION_DAYS": str(config.retention.data_days),
            "RUNG_SUPPRESSIONS_TABLE": storage.suppressions.table_name,
            "RUNG_LEDGER_TABLE": storage.ledger.table_name,
            "RUNG_AUDIT_TABLE": storage.audit.table_name,
            "RUNG_AUDIT_RETENTION_DAYS": str(config.retention.data_days),
            "RUNG_TEMPLATES_TABLE": storage.templates.table_name,
            "RUNG_UPLOADS_TABLE": storage.uploads.table_name,
            "RUNG_UPLOADS_BUCKET": storage.bucket.bucket_name,
            "RUNG_REVIEWS_TABLE": storage.reviews.table_name,
            "RUNG_LENDER_IDS": ",".join(sorted(config.lender_access)),
            "RUNG_USER_POOL_ID": self.user_pool.user_pool_id,
            "RUNG_USER_POOL_CLIENT_ID": self.client.user_pool_client_id,
            "RUNG_USER_POOL_DOMAIN": (
                f"{self.domain.domain_name}.auth.{Aws.REGION}.amazoncognito.com"
            ),
            "RUNG_CONSOLE_URL": self.url,
            "RUNG_SESSION_SECRET_ARN": self.session_secret.secret_arn,
            "RUNG_ANALYTICS_WORKGROUP": analytics.workgroup.ref,
            "RUNG_ANALYTICS_DATABASE": analytics.database_name,
            "RUNG_ANALYTICS_BUCKET": analytics.bucket.bucket_name,
            "RUNG_ANALYTICS_RESULTS_PREFIX": RESULTS_PREFIX,
            "RUNG_REPORT_WAIT_SECONDS": str(REPORT_WAIT_SECONDS),
            "RUNG_REPORT_FRESH_MINUTES": str(REPORT_FRESH_MINUTES),
        }
        missing = ConsoleLambdaSettings.variables() - set(variables) - {"RUNG_CONFIG_ROOT"}
        if missing:
            raise ValueError(f"the console function's environment lacks {sorted(missing)}")
        return {
            **variables,
            "POWERTOOLS_SERVICE_NAME": config.service_name,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "POWERTOOLS_LOG_LEVEL": config.log_level,
        }

    def _grant(self, storage: Storage) -> None:
        """What the console's services call (functions/console/wiring.py), table by table."""
        fn = self.function
        _allow(fn, ["dynamodb:GetItem", "dynamodb:UpdateItem"], [storage.accounts.table_arn])
        _allow(
            fn,
            ["dynamodb:Query"],
            [
                f"{storage.accounts.table_arn}/index/by_phone",
                f"{storage.accounts.table_arn}/index/by_email",
            ],
        )
        # Suppressions (search, add, lift) and channel pauses share the table.
        _allow(
            fn,
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
            [storage.suppressions.table_arn],
        )
        _allow(fn, ["dynamodb:Scan"], [storage.ledger.table_arn, storage.uploads.table_arn])
        # Decisions read; console actions appended (conditional puts, never updates).
        _allow(
            fn,
            ["dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem"],
            [storage.audit.table_arn],
        )
        _allow(
            fn,
            [
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:Query",
                "dynamodb:Scan",
            ],
            [storage.templates.table_arn],
        )
        _allow(
            fn,
            ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan"],
            [storage.reviews.table_arn],
        )
        # Reject reports are downloaded; lender files themselves are never opened here.
        _allow(fn, ["s3:GetObject"], [storage.bucket.arn_for_objects(f"{REJECTS_PREFIX}*")])
        # The capacity plans the plan function stored: the newest is found by listing plans/
        # (the listing is limited to that prefix), then read.
        _allow(fn, ["s3:GetObject"], [storage.bucket.arn_for_objects(f"{PLANS_PREFIX}*")])
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[storage.bucket.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": PLANS_PREFIX}},
            )
        )
        _allow(fn, ["kms:Decrypt"], [storage.key.key_arn])
        _allow(fn, ["secretsmanager:GetSecretValue"], [self.session_secret.secret_arn])
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(storage.bucket)}.Arn>/{PLANS_PREFIX}*]",
            "Read-only and limited to the capacity plans' prefix; each plan is named after the "
            "lender file it plans.",
        )
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::<{logical_id(storage.bucket)}.Arn>/{REJECTS_PREFIX}*]",
            "Object-level access is limited to the reject reports' prefix; their names come "
            "from the lender's file names.",
        )

    def _acknowledge_public(self, route: apigwv2.HttpRoute) -> None:
        reason = (
            "Browsers navigate to pages and cannot send a bearer token, so API Gateway's JWT "
            "authorizer cannot guard them; the Lambda signs people in with Cognito (PKCE) and "
            "verifies the ID token in the session cookie on every request, refusing anyone "
            "without one (docs/decisions.md)."
        )
        acknowledge(route, "AwsSolutions-APIG4", reason)


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogs:
    """The stage's access logs: to `destination`, in ACCESS_LOG_FORMAT."""

    def __init__(self, destination: apigwv2.IAccessLogDestination) -> None:
        self._destination = destination

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return ACCESS_LOG_FORMAT


def _allow(fn: lambda_.Function, actions: list[str], resources: list[str]) -> None:
    fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=resources))
