"""darkpool operator: domain logic, service, client."""
