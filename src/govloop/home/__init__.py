"""The pages that belong to no domain: home, sign-in and sign-out, language, admin overview."""
