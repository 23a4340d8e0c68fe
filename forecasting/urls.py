app_name = "forecasting"
urlpatterns = []
