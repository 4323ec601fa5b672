"""Who may use the back office: accounts, sign-in, tokens and what each role may do."""
