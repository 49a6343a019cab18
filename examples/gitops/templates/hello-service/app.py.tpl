"""[[ AppName ]]: a minimal Flask service, deployed by Argo CD."""

from flask import Flask

app = Flask("[[ AppName ]]")


@app.get("/")
def hello() -> dict[str, str]:
    return {"service": "[[ AppName ]]", "message": "hello from GitOps"}
