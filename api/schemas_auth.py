"""Request shapes of sign-out, password change and user changes (api/routes/users.py)."""

from __future__ import annotations

from pydantic import Field

from api.schemas import In


class PasswordChange(In):
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


class UserUpdate(In):
    active: bool | None = Field(default=None, description="false: the user can no longer sign in")
    password: str | None = Field(default=None, min_length=8, max_length=200, description="A new password")
