from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Column, DateTime, Integer, String


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

    def __str__(self) -> str:
        return self.first_name or self.username
