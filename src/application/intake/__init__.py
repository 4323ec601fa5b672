"""Cases coming in: CRM exports, e-mails, calls, and facts recorded on cases."""
