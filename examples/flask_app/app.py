"""A small Flask app served by nodicorn.

    pip install flask
    nodicorn app:app --chdir examples/flask_app --bind 127.0.0.1:8000

Routes: GET / (HTML page), GET /api/hello?name=... (JSON), GET|POST /guestbook (a form).
"""
import platform

from flask import Flask, jsonify, redirect, render_template, request, url_for

app = Flask(__name__)

# Kept in the worker's memory: each worker process has its own list, which is fine for a demo.
ENTRIES = []


@app.get("/")
def index():
    return render_template("index.html", python=platform.python_version())


@app.get("/api/hello")
def api_hello():
    name = request.args.get("name", "world")
    return jsonify(greeting="Hello, %s!" % name, server=request.environ.get("SERVER_SOFTWARE", ""),
                   multiprocess=request.environ.get("wsgi.multiprocess"))


@app.route("/guestbook", methods=["GET", "POST"])
def guestbook():
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        message = request.form.get("message", "").strip()
        if not name or not message:
            return render_template("guestbook.html", entries=ENTRIES, error="Both fields are required."), 400
        ENTRIES.append({"name": name, "message": message})
        # Post/redirect/get, as a real form should.
        return redirect(url_for("guestbook", thanks=name), code=303)
    return render_template("guestbook.html", entries=ENTRIES, thanks=request.args.get("thanks"), error=None)


if __name__ == "__main__":
    app.run(port=8000)
