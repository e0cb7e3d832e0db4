"""Revocation across nodes: a token revoked anywhere is rejected everywhere within 100 ms.

A node may cache credentials, so each token is used on the other node before it is revoked. The
other node is then polled every 5 ms for up to 1 s, and the time from the end of the revocation
to the first 401 is measured and printed.
"""

import time

from conftest import assert_unauthorized, describe, new_session, run_cli, summarize_ms

REVOCATION_BOUND_S = 0.100
POLL_INTERVAL_S = 0.005
POLL_LIMIT_S = 1.0
POLL_MAX_REQUESTS = 200
USER_TRIES = 5
ADMIN_TRIES = 3


def wait_until_rejected(node, token):
    """Poll node with token until it returns 401, and return the time.monotonic() of that response.

    Returns None when the token was still accepted after POLL_LIMIT_S or POLL_MAX_REQUESTS.
    """
    deadline = time.monotonic() + POLL_LIMIT_S
    with new_session() as session:
        for _ in range(POLL_MAX_REQUESTS):
            if time.monotonic() >= deadline:
                break
            response = node.send(session, "GET", "/api/1.1/obj/task", token)
            answered_at = time.monotonic()
            if response.status_code == 401:
                assert_unauthorized(response, "Invalid or expired token", secret=token)
                return answered_at
            assert response.status_code == 200, f"{node}: {describe(response)}"
            time.sleep(POLL_INTERVAL_S)
    return None


def use_token(node, token, user_id=None):
    """Send requests with token, so a node that caches credentials has it cached."""
    for _ in range(2):
        response = node.get("/api/1.1/obj/task", token)
        assert response.status_code == 200, f"{node}: {describe(response)}"
    if user_id is not None:
        response = node.get(f"/api/1.1/obj/user/{user_id}", token)
        assert response.status_code == 200, f"{node}: {describe(response)}"


def test_logout_on_one_node_revokes_everywhere(cluster):
    node_a, node_b = cluster.start_nodes(2)
    user = cluster.signup(node_a)

    latencies = []
    for _ in range(USER_TRIES):
        token = cluster.login(node_a, user)
        use_token(node_a, token, user["id"])
        use_token(node_b, token, user["id"])

        response = node_a.post("/api/1.1/wf/logout", token, json={})
        logged_out_at = time.monotonic()
        assert response.status_code == 200, describe(response)

        rejected_at = wait_until_rejected(node_b, token)
        assert rejected_at is not None, \
            f"node B still accepted the token {POLL_LIMIT_S} s after logout on node A"
        latencies.append(rejected_at - logged_out_at)
        assert_unauthorized(node_a.get("/api/1.1/obj/task", token), "Invalid or expired token",
                            secret=token)

    print(f"user token revocation latency on the other node over {USER_TRIES} tries: "
          f"{summarize_ms(latencies)}")
    slow = [round(latency * 1000, 1) for latency in latencies if latency > REVOCATION_BOUND_S]
    assert not slow, f"node B accepted a logged-out token for longer than 100 ms: {slow} ms"

    # The user's first session was never logged out and still works on both nodes.
    use_token(node_a, user["token"])
    use_token(node_b, user["token"])


def test_admin_token_revoke_reaches_running_nodes(cluster):
    node_a, node_b = cluster.start_nodes(2)
    kept_token, _ = cluster.admin_token()

    latencies = []
    for _ in range(ADMIN_TRIES):
        token, label = cluster.admin_token()
        use_token(node_a, token)
        use_token(node_b, token)

        result = run_cli("admin-token", "revoke", label, "--db", cluster.db_url)
        revoked_at = time.monotonic()
        assert result.returncode == 0, f"admin-token revoke failed: {result.stderr}"

        rejected_at = wait_until_rejected(node_b, token)
        assert rejected_at is not None, \
            f"node B still accepted the admin token {POLL_LIMIT_S} s after the CLI revoked it"
        latencies.append(rejected_at - revoked_at)
        assert_unauthorized(node_a.get("/api/1.1/obj/task", token), "Invalid or expired token",
                            secret=token)

    print(f"admin token revocation latency over {ADMIN_TRIES} tries: {summarize_ms(latencies)}")
    slow = [round(latency * 1000, 1) for latency in latencies if latency > REVOCATION_BOUND_S]
    assert not slow, f"node B accepted a revoked admin token for longer than 100 ms: {slow} ms"

    # Revoking one label leaves the other admin tokens working on every node.
    use_token(node_a, kept_token)
    use_token(node_b, kept_token)
