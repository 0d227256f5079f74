-- wrk script for the peer: the same request shape against a bare Fastify route.
wrk.method = "POST"
wrk.path = "/bare"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"user000001","passcode":"123456"}'
