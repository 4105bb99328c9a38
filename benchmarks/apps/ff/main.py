import functions_framework


@functions_framework.http
def hello(request):
    if request.method == "POST":
        return request.get_data(), 200, {"Content-Type": "application/json"}
    return "Hello World!"
