"""darkpool tests."""
