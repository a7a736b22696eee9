from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, String, false
from sqlalchemy.orm import relationship


class CrmUser(User):
    """A staff account: Flask-AppBuilder's user with the seed's extra fields.

    ``first_name`` holds the one 姓名 field; ``last_name`` stays empty because
    Chinese names are not split into given and family names on forms.
    """

    __tablename__ = "ab_user"

    age = Column(Integer)
    position = Column(String(50))
    phone = Column(String(30))
    home_address = Column(String(300))
    years_of_work = Column(Integer)
    # Shared by every worker, so kept in the database (app/services/accounts.py):
    # when the user last made a request (NULL after sign-out) ...
    last_seen_at = Column(DateTime)
    # ... and until when sign-in is refused after repeated failed logins.
    locked_until = Column(DateTime)
    # 部门: whose customers a department-scoped role sees (app/services/scope.py).
    department_id = Column(Integer, ForeignKey("department.id"), index=True)
    department = relationship("Department", foreign_keys=[department_id], lazy="select")
    # Set for the admin ``crm init`` creates with a printed password: every page
    # but the password form is refused until the password is changed.
    must_change_password = Column(Boolean, nullable=False, default=False, server_default=false())

    def __str__(self) -> str:
        return self.first_name or self.username
