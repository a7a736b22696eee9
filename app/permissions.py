"""Who may do what: one table of roles and their permissions.

Each business module is one resource, shared by its pages and its REST API,
with five permissions. ``crm init`` applies the table; the permission-matrix
test walks it. Role display names come from ``CRM_ROLE_NAMES`` in the config
(stored in Chinese, as the spec asks).
"""

READ, ADD, EDIT, DELETE, EXPORT = "read", "add", "edit", "delete", "export"
ACTIONS = (READ, ADD, EDIT, DELETE, EXPORT)
FULL = ACTIONS
READ_ONLY = (READ,)
READ_EXPORT = (READ, EXPORT)

CUSTOMER, CONTACT, CONTRACT = "Customer", "Contact", "Contract"
PRODUCT, LICENSE = "Product", "License"
FEEDBACK, REPORTER = "Feedback", "Reporter"
BUSINESS_RESOURCES = (CUSTOMER, CONTACT, CONTRACT, PRODUCT, LICENSE, FEEDBACK, REPORTER)
# Reports: read opens the report's form, export downloads the workbook.
SERVICE_REPORT = "ServiceReport"

ADMIN, SALES, SUPPORT, ENGINEER, MANAGER = "admin", "sales", "support", "engineer", "manager"

# role key -> {resource: actions}; the admin role has every permission.
ROLE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    SALES: {
        CUSTOMER: FULL,
        CONTACT: FULL,
        CONTRACT: FULL,
        PRODUCT: READ_ONLY,
        LICENSE: READ_ONLY,
    },
    SUPPORT: {
        FEEDBACK: FULL,
        REPORTER: FULL,
        CUSTOMER: READ_ONLY,
        CONTACT: READ_ONLY,
        PRODUCT: READ_ONLY,
        LICENSE: READ_ONLY,
        SERVICE_REPORT: READ_EXPORT,
    },
    ENGINEER: {
        FEEDBACK: (READ, EDIT),
        PRODUCT: FULL,
        LICENSE: FULL,
    },
    MANAGER: {
        **{resource: READ_EXPORT for resource in BUSINESS_RESOURCES},
        SERVICE_REPORT: READ_EXPORT,
    },
}


def resource_of(model) -> str:
    return model.__name__


def permission_name(action: str) -> str:
    """FAB stores permissions with a ``can_`` prefix."""
    return f"can_{action}"
