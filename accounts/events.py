"""What the accounts app announces; the layers above listen (it never calls up).

``users_changed(user_ids)``: users (or the teams they manage) were changed by a bulk
``update()``, which sends no ``post_save``. A saved or deleted user or team sends Django's own
signals; together they let what keeps a copy of a user (the API's token cache) drop it at
once.
"""

from django.dispatch import Signal

users_changed = Signal()  # user_ids
