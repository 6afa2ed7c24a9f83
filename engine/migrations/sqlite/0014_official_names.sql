-- The name an official is called by in acts and forms ("Paolo Neri"), set with `procedo user
-- set --name`: a form field with `default: official.name` opens with it, so a dirigente does
-- not retype her name in every act. NULL: the account has none (the user name is used).
ALTER TABLE users ADD COLUMN full_name TEXT;
