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
# The customer pool (公海): claim (see the pool, claim, release one's own) and
# transfer (move customers between owners), two more permissions on customers.
CLAIM, TRANSFER = "claim", "transfer"
# Personal data (身份证号, private phones) in clear: 查看敏感信息 (app/services/masking.py).
REVEAL = "reveal"
# A person's data requests on contacts and reporters: download everything stored
# about them, anonymise them (删除个人信息); app/services/personal_data.py. Seeded to
# the admin only (the admin role holds every permission).
PERSONAL_DATA = "personal_data"

CUSTOMER, CONTACT, CONTRACT = "Customer", "Contact", "Contract"
PRODUCT, LICENSE = "Product", "License"
FEEDBACK, REPORTER = "Feedback", "Reporter"
FOLLOWUP = "FollowUp"
PAYMENT_PLAN, PAYMENT = "PaymentPlan", "Payment"
BUSINESS_RESOURCES = (
    CUSTOMER,
    CONTACT,
    CONTRACT,
    PRODUCT,
    LICENSE,
    FEEDBACK,
    REPORTER,
    FOLLOWUP,
    PAYMENT_PLAN,
    PAYMENT,
)
# Reports: read opens the report's form, export downloads the workbook.
SERVICE_REPORT = "ServiceReport"
RECEIVABLES_REPORT = "ReceivablesReport"
# The rows of the role page's permission grid (app/views/role_matrix.py).
MATRIX_RESOURCES = (*BUSINESS_RESOURCES, SERVICE_REPORT, RECEIVABLES_REPORT)

ADMIN, SALES, SUPPORT, ENGINEER, MANAGER = "admin", "sales", "support", "engineer", "manager"
FINANCE = "finance"

# role key -> {resource: actions}; the admin role has every permission.
ROLE_GRANTS: dict[str, dict[str, tuple[str, ...]]] = {
    SALES: {
        CUSTOMER: (*FULL, CLAIM),
        CONTACT: (*FULL, REVEAL),  # their own customers' contacts: the scope limits which
        CONTRACT: FULL,
        PRODUCT: READ_ONLY,
        LICENSE: READ_ONLY,
        FOLLOWUP: FULL,
        PAYMENT_PLAN: FULL,
        PAYMENT: READ_ONLY,
    },
    SUPPORT: {
        FEEDBACK: FULL,
        REPORTER: (*FULL, REVEAL),  # they call reporters
        CUSTOMER: READ_ONLY,
        CONTACT: READ_ONLY,
        PRODUCT: READ_ONLY,
        LICENSE: READ_ONLY,
        SERVICE_REPORT: READ_EXPORT,
        FOLLOWUP: (READ, ADD),
    },
    ENGINEER: {
        FEEDBACK: (READ, EDIT),
        PRODUCT: FULL,
        LICENSE: FULL,
    },
    MANAGER: {
        **{resource: READ_EXPORT for resource in BUSINESS_RESOURCES},
        CUSTOMER: (*READ_EXPORT, TRANSFER),
        SERVICE_REPORT: READ_EXPORT,
        RECEIVABLES_REPORT: READ_EXPORT,
    },
    FINANCE: {
        PAYMENT: FULL,
        PAYMENT_PLAN: READ_ONLY,
        CONTRACT: READ_ONLY,
        CUSTOMER: READ_ONLY,
        RECEIVABLES_REPORT: READ_EXPORT,
    },
}


# resource -> the permissions beyond ``ACTIONS`` its pages declare
EXTRA_ACTIONS: dict[str, tuple[str, ...]] = {
    CUSTOMER: (CLAIM, TRANSFER),
    CONTACT: (REVEAL, PERSONAL_DATA),
    REPORTER: (REVEAL, PERSONAL_DATA),
}

# role key -> data scope code (app.models.choices.DataScope), applied by ``crm init``
# to roles that have none yet; the admin role always sees everything.
ROLE_SCOPES: dict[str, str] = {
    ADMIN: "all",
    SALES: "own",
    SUPPORT: "all",
    ENGINEER: "all",
    MANAGER: "department_tree",
    FINANCE: "all",
}


# menu links (not views) -> the (resource, action) that shows them
MENU_LINKS: dict[str, tuple[str, str]] = {"Customer pool": (CUSTOMER, CLAIM)}


def resource_actions(resource: str) -> tuple[str, ...]:
    """Every action of ``resource``: each page and API of it declares the same list,
    because FAB prunes a resource's permissions to the last list it sees."""
    return ACTIONS + EXTRA_ACTIONS.get(resource, ())


def base_permissions_of(resource: str) -> list[str]:
    return [permission_name(action) for action in resource_actions(resource)]


def resource_of(model) -> str:
    return model.__name__


def permission_name(action: str) -> str:
    """FAB stores permissions with a ``can_`` prefix."""
    return f"can_{action}"
