from app.models import Product

from .base import CrmModelApi


class ProductApi(CrmModelApi):
    model = Product
    resource_name = "products"
    add_columns = edit_columns = [
        "customer",
        "name",
        "version",
        "description",
        "customization",
        "backup_path",
        "manual_path",
        "created_date",
        "authorization_code",
    ]
    list_columns = show_columns = [
        "id",
        "customer.code",
        "customer.name",
        "name",
        "version",
        "description",
        "customization",
        "backup_path",
        "manual_path",
        "created_date",
        "authorization_code",
        "created_on",
        "changed_on",
    ]
