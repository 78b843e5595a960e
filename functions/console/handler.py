"""Console Lambda (HTTP API, payload 2.0): the ops console's pages behind Cognito sign-in.

Built once per cold start: the settings the stack sets (a missing one fails here, named), the
session key from Secrets Manager, the pages over the real tables and the analytics workgroup
(functions/console/wiring.py) and the sign-in routes (functions/console/cognito.py), whose
session cookie identifies the user of every request.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.typing import LambdaContext
from jwt import PyJWKClient

from functions.console.app import create_app
from functions.console.cognito import (
    CognitoConfig,
    IdTokenVerifier,
    add_auth_routes,
    session_identity,
)
from functions.console.wiring import athena_outcomes, aws_services, session_key
from functions.observability import logger, metrics
from functions.settings import ConsoleLambdaSettings


@cache
def console_app() -> APIGatewayHttpResolver:
    return build_console(ConsoleLambdaSettings.from_environment())


def build_console(
    settings: ConsoleLambdaSettings, jwks: PyJWKClient | None = None
) -> APIGatewayHttpResolver:
    """The console over the real adapters; `jwks`: where the pool's signing keys are read
    (unset: the pool's own JWKS URL)."""
    key = session_key(settings.session_secret_arn)
    cognito = CognitoConfig(
        user_pool_id=settings.user_pool_id,
        client_id=settings.user_pool_client_id,
        domain=settings.user_pool_domain,
        console_url=settings.console_url,
    )
    verifier = IdTokenVerifier(cognito, jwks)
    services = aws_services(settings)
    services = replace(services, reports=athena_outcomes(settings, services.clock))
    app = create_app(services, session_identity(verifier), csrf_secret=key)
    add_auth_routes(app, config=cognito, verifier=verifier, signing_key=key)
    return app


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response: dict[str, Any] = console_app().resolve(event, context)
    return response
