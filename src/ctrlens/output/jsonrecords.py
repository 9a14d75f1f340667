"""Moved to `ctrlens.jsonrecords` (features write JSON too, and features do not import `output`)."""

from ..jsonrecords import dumps_with_records as dumps_with_records
