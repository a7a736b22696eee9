"""Excel output: functions from query results to write-only openpyxl workbooks."""
