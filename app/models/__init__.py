"""All models, imported here so that metadata and migrations see every table."""

from .audit import AuditEvent
from .choices import (
    ContactStatus,
    CustomerCategory,
    CustomerStatus,
    DataScope,
    FeedbackLevel,
    FeedbackStatus,
    FollowUpMethod,
    Importance,
    PaymentMethod,
)
from .contact import Contact
from .contract import Contract
from .customer import Customer
from .department import Department
from .feedback import Feedback
from .followup import FollowUp
from .history import ChangeAction, ChangeRecord
from .license import License
from .notification import FeedbackNotification, NotificationChannel, NotificationState
from .payment import Payment, PaymentPlan
from .product import Product
from .reporter import Reporter
from .role_scope import RoleScope
from .user import CrmUser

BUSINESS_MODELS = (
    Customer,
    Contact,
    Contract,
    Product,
    License,
    Reporter,
    Feedback,
    PaymentPlan,
    Payment,
    FollowUp,
)

__all__ = [
    "AuditEvent",
    "BUSINESS_MODELS",
    "ChangeAction",
    "ChangeRecord",
    "Contact",
    "ContactStatus",
    "Contract",
    "CrmUser",
    "Customer",
    "CustomerCategory",
    "CustomerStatus",
    "DataScope",
    "Department",
    "Feedback",
    "FeedbackLevel",
    "FeedbackNotification",
    "FeedbackStatus",
    "FollowUp",
    "FollowUpMethod",
    "Importance",
    "License",
    "NotificationChannel",
    "NotificationState",
    "Payment",
    "PaymentMethod",
    "PaymentPlan",
    "Product",
    "Reporter",
    "RoleScope",
]
