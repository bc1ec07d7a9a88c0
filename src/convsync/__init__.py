"""convsync: keeps Conversion and Salesforce campaigns in sync."""
