"""Field labels, one table for pages, API messages, exports and reports."""

from flask_babel import lazy_gettext as _l

COMMON = {
    "id": _l("ID"),
    "customer": _l("Customer"),
    "customer_id": _l("Customer"),
    "name": _l("Name"),
    "phone": _l("Phone"),
    "email": _l("Email"),
    "address": _l("Address"),
    "status": _l("Status"),
    "created_on": _l("Created on"),
    "changed_on": _l("Changed on"),
    "created_by": _l("Created by"),
    "changed_by": _l("Changed by"),
}

BY_TABLE = {
    "customer": {
        "code": _l("Customer code"),
        "name": _l("Company name"),
        "category": _l("Company category"),
        "status": _l("Customer status"),
        "importance": _l("Importance"),
        "owner": _l("Owner"),
        "owner_id": _l("Owner"),
        "last_followup_at": _l("Last follow-up time"),
        "next_followup_at": _l("Next follow-up time"),
    },
    "followup": {
        "contact": _l("Contact"),
        "contact_id": _l("Contact"),
        "method": _l("Follow-up method"),
        "content": _l("Follow-up content"),
        "followed_at": _l("Follow-up time"),
        "next_at": _l("Next follow-up time"),
        "next_step": _l("Next step"),
        "user": _l("Followed up by"),
        "user_id": _l("Followed up by"),
    },
    "department": {
        "name": _l("Department name"),
        "parent": _l("Parent department"),
        "parent_id": _l("Parent department"),
    },
    "contact": {
        "name": _l("Person name"),
        "position": _l("Position"),
        "birth_date": _l("Birth date"),
        "national_id": _l("National ID"),
    },
    "contract": {
        "number": _l("Contract number"),
        "sign_date": _l("Sign date"),
        "end_date": _l("End date"),
        "payment_date": _l("Payment date"),
        "amount": _l("Contract amount"),
        "party_a": _l("Party A"),
        "party_b": _l("Party B"),
    },
    "product": {
        "name": _l("Product name"),
        "description": _l("Description"),
        "version": _l("Version"),
        "customization": _l("Customisation notes"),
        "backup_path": _l("Version backup path"),
        "manual_path": _l("Manual path"),
        "created_date": _l("Created date"),
        "authorization_code": _l("Authorisation code"),
    },
    "license": {
        "product": _l("Product"),
        "product_id": _l("Product"),
        "serial": _l("License serial"),
        "seats": _l("Seats"),
        "valid_from": _l("Valid from"),
        "valid_to": _l("Valid to"),
        "machine_info": _l("Machine info"),
        "is_trial": _l("Trial"),
    },
    "ab_user": {
        "username": _l("Login name"),
        "first_name": _l("Person name"),
        "active": _l("Enabled"),
        "age": _l("Age"),
        "position": _l("Position"),
        "home_address": _l("Home address"),
        "years_of_work": _l("Years of work"),
        "roles": _l("Roles"),
        "department": _l("Department"),
        "department_id": _l("Department"),
    },
    "payment_plan": {
        "contract": _l("Contract"),
        "contract_id": _l("Contract"),
        "instalment": _l("Instalment"),
        "planned_date": _l("Planned payment date"),
        "planned_amount": _l("Planned amount"),
    },
    "payment": {
        "contract": _l("Contract"),
        "contract_id": _l("Contract"),
        "plan": _l("Instalment"),
        "plan_id": _l("Instalment"),
        "paid_on": _l("Payment received on"),
        "amount": _l("Amount received"),
        "method": _l("Payment method"),
        "invoice_number": _l("Invoice number"),
        "recorded_by": _l("Handled by"),
        "recorded_by_id": _l("Handled by"),
    },
    "reporter": {
        "name": _l("Person name"),
        "store": _l("Store"),
    },
    "feedback": {
        "reporter": _l("Reporter"),
        "reporter_id": _l("Reporter"),
        "product": _l("Product"),
        "product_id": _l("Product"),
        "problem": _l("Problem"),
        "details": _l("Details"),
        "cause": _l("Cause analysis"),
        "engineer": _l("Tracking engineer"),
        "engineer_id": _l("Tracking engineer"),
        "created_at": _l("Created at"),
        "resolved_at": _l("Resolved at"),
        "level": _l("Level"),
        "status": _l("Problem status"),
        "city": _l("City"),
        "store": _l("Store"),
    },
}


def labels_for(model) -> dict:
    """``label_columns`` for a view of ``model``: common labels, then its own."""
    return {**COMMON, **BY_TABLE.get(model.__tablename__, {})}


def label_of(model, field: str) -> str:
    return str(labels_for(model).get(field, field))


def page_titles(noun) -> dict:
    """A module's four page titles, read as "Customer list" in the catalog's language
    (FAB's own read "List Customer"); the pages and the API's spec share them."""
    return {
        "list_title": _l("%(name)s list", name=noun),
        "show_title": _l("View %(name)s", name=noun),
        "add_title": _l("Add %(name)s", name=noun),
        "edit_title": _l("Edit %(name)s", name=noun),
    }
