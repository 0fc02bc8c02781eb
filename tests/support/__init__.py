"""Helpers shared by the DynamoDB Local and fault-injection suites."""
