"""All models, imported here so that metadata and migrations see every table."""

from .choices import (  # noqa: F401
    ContactStatus,
    CustomerCategory,
    CustomerStatus,
    FeedbackLevel,
    FeedbackStatus,
    Importance,
)
from .contact import Contact
from .contract import Contract
from .customer import Customer
from .feedback import Feedback
from .history import ChangeAction, ChangeRecord  # noqa: F401
from .license import License
from .notification import (  # noqa: F401
    FeedbackNotification,
    NotificationChannel,
    NotificationState,
)
from .product import Product
from .reporter import Reporter
from .user import CrmUser  # noqa: F401

BUSINESS_MODELS = (Customer, Contact, Contract, Product, License, Reporter, Feedback)
