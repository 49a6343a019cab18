"""[[ AppName ]]: a minimal Flask service."""

from flask import Flask

app = Flask("[[ AppName ]]")


@app.get("/healthz")
def healthz() -> dict[str, str]:
    return {"service": "[[ AppName ]]", "status": "ok"}


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=[[ port ]])
