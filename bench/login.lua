-- wrk script: continuous password logins (POST /guichet/login), each one
-- an argon2id verification in the thread pool. The CSRF cookie and token
-- are fetched once by bench.py (a signed double-submit token stays valid
-- for two hours), so the load generator only replays one request.
--
--   wrk -s bench/login.lua URL  with LOGIN_BODY and LOGIN_COOKIE set

wrk.method = "POST"
wrk.body = os.getenv("LOGIN_BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Cookie"] = os.getenv("LOGIN_COOKIE")
