"""A local Salesforce REST API server for tests, demos and benchmarks.

It exists so that an unmodified simple-salesforce client exercises the same code paths
against it as against a real org: OAuth, SOQL with paging, sObject CRUD, sObject
Collections, describe, getUpdated/getDeleted, limits and Bulk API 2.0, with Salesforce's
own JSON shapes and error codes. Production code never imports it.
"""
