"""The REST API at /api/v1/<module>/, registered in one place."""

from flask_appbuilder.api.manager import OpenApi

from .contact import ContactApi
from .contract import ContractApi
from .customer import CustomerApi
from .feedback import FeedbackApi
from .followup import FollowUpApi
from .license import LicenseApi
from .messages import init_jwt_messages
from .payment import PaymentApi, PaymentPlanApi
from .product import ProductApi
from .reporter import ReporterApi

APIS = (
    CustomerApi,
    ContactApi,
    ContractApi,
    PaymentPlanApi,
    PaymentApi,
    ProductApi,
    LicenseApi,
    FeedbackApi,
    ReporterApi,
    FollowUpApi,
)


def register_apis(appbuilder) -> None:
    init_jwt_messages(appbuilder.sm.jwt_manager)
    for api in APIS:
        appbuilder.add_api(api)
    # The spec at /api/v1/_openapi; FAB adds it only with its Swagger UI, which loads from a CDN.
    appbuilder.add_api(OpenApi)
