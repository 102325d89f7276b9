-- reads: nothing / creates: nothing (staging.crm_book_request() books the request in staging.api_requests)
-- Books one request of the app within its shared limit: 0 when it may start now, the seconds to
-- wait before asking again, or a negative number when the day's quota (less the reserve) is used.
select staging.crm_book_request(%(app)s, %(max_requests)s, %(window)s, %(reserve)s)
