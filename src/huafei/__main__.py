from huafei.cli.main import app

app()
