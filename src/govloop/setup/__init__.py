"""Going live: the centre's configuration (事项清单 workbook import and export, the change
log of every configured object, the first administrator)."""
