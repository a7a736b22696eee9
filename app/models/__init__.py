"""All models, imported here so that metadata and migrations see every table."""

from .choices import (  # noqa: F401
    ContactStatus,
    CustomerCategory,
    CustomerStatus,
    FeedbackLevel,
    FeedbackStatus,
    Importance,
)
from .contact import Contact  # noqa: F401
from .contract import Contract  # noqa: F401
from .customer import Customer  # noqa: F401
from .feedback import Feedback  # noqa: F401
from .history import ChangeAction, ChangeRecord  # noqa: F401
from .license import License  # noqa: F401
from .notification import (  # noqa: F401
    FeedbackNotification,
    NotificationChannel,
    NotificationState,
)
from .product import Product  # noqa: F401
from .reporter import Reporter  # noqa: F401
from .user import CrmUser  # noqa: F401

BUSINESS_MODELS = (Customer, Contact, Contract, Product, License, Reporter, Feedback)
