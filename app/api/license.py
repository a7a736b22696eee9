from app.models import License

from .base import CrmModelApi


class LicenseApi(CrmModelApi):
    model = License
    resource_name = "licenses"
    add_columns = edit_columns = ["customer", "product", "serial", "seats", "valid_from", "valid_to", "is_trial", "machine_info"]
    list_columns = show_columns = ["id", "customer.code", "customer.name", "product.name", "serial", "seats", "valid_from", "valid_to", "is_trial", "machine_info", "created_on", "changed_on"]
