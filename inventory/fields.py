"""A text field encrypted at rest with the keys in settings.ENCRYPTION_KEYS (Fernet, from cryptography)."""

from functools import cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def secret_cipher() -> MultiFernet:
    """The first key encrypts; every key decrypts, so keys can be rotated."""
    return _fernet(tuple(settings.ENCRYPTION_KEYS))


class EncryptedTextField(models.TextField):
    """Stores Fernet tokens; Python code only ever sees the plain text. Never shown in forms or logs."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return secret_cipher().decrypt(value.encode()).decode()

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return secret_cipher().encrypt(value.encode()).decode()
