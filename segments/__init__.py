"""Customers' order data and chat behaviour, aggregated into attributes and segments."""
