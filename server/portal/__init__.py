"""The patient portal: platform accounts, sign-in, self-service, family and sharing."""
