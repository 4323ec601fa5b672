"""Mail adapters: SMTP (aiosmtplib), a folder of .eml files, and the contact directory."""
