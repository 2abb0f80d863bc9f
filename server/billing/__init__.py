"""Bills and payments: invoices, payments at the desk and online, prices, receipts."""
