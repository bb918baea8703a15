"""The pipeline's core: contract, intake, coercion, validation, warehouse, settings."""

from loyalty.textsafe import install_log_filter

# Every process that runs project code logs through here first: escape the data in log lines from the start.
install_log_filter()
