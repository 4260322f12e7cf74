"""Services: typed, keyword-only functions that own the transaction. They never touch `request`."""
