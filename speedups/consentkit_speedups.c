/* consentkit_speedups: optional compiled versions of the few loops every request runs.
 *
 * Each function has a pure-Python twin in consentkit (the reference; both are tested
 * against each other) and returns None for any input shape it does not handle, so the
 * caller then takes the Python path. Nothing here keeps state between calls.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include "structmember.h"

#define SPEEDUPS_API 1 /* bumped when a signature or a meaning changes */

static PyObject *k_cookie, *k_host, *k_user_agent, *k_accept_language, *k_sec_gpc, *k_dnt;
static PyObject *cookie_sep, *list_sep;

/* The two items of a header pair, when it is a 2-tuple or 2-list of bytes. */
static int
pair_of(PyObject *item, PyObject **name, PyObject **value)
{
    if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) {
        *name = PyTuple_GET_ITEM(item, 0);
        *value = PyTuple_GET_ITEM(item, 1);
    }
    else if (PyList_CheckExact(item) && PyList_GET_SIZE(item) == 2) {
        *name = PyList_GET_ITEM(item, 0);
        *value = PyList_GET_ITEM(item, 1);
    }
    else {
        return 0;
    }
    return PyBytes_CheckExact(*name) && PyBytes_CheckExact(*value);
}

/* read_request_headers(headers: list) -> dict | None
 *
 * The request headers consentkit reads, by name (exact lower-case ASGI names): the
 * Cookie lines joined with "; ", the last Host, User-Agent, Sec-GPC and DNT, the first
 * Accept-Language. The keys are this module's own bytes objects (hash computed once).
 * None when *headers* holds anything but pairs of bytes.
 */
static PyObject *
read_request_headers(PyObject *Py_UNUSED(module), PyObject *headers)
{
    if (!PyList_CheckExact(headers)) {
        Py_RETURN_NONE;
    }
    PyObject *found = PyDict_New();
    if (found == NULL) {
        return NULL;
    }
    PyObject *cookies = NULL;   /* a list, once a second Cookie line comes */
    PyObject *cookie = NULL;    /* the first Cookie line (borrowed from the list) */
    Py_ssize_t count = PyList_GET_SIZE(headers);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name, *value, *key = NULL;
        if (!pair_of(PyList_GET_ITEM(headers, i), &name, &value)) {
            Py_XDECREF(cookies);
            Py_DECREF(found);
            Py_RETURN_NONE;
        }
        const char *s = PyBytes_AS_STRING(name);
        switch (PyBytes_GET_SIZE(name)) {
        case 6:
            if (memcmp(s, "cookie", 6) == 0) {
                if (cookie == NULL) {
                    cookie = value;
                }
                else {
                    if (cookies == NULL) {
                        cookies = PyList_New(1);
                        if (cookies == NULL) {
                            Py_DECREF(found);
                            return NULL;
                        }
                        Py_INCREF(cookie);
                        PyList_SET_ITEM(cookies, 0, cookie);
                    }
                    if (PyList_Append(cookies, value) < 0) {
                        Py_DECREF(cookies);
                        Py_DECREF(found);
                        return NULL;
                    }
                }
            }
            continue;
        case 4:
            key = memcmp(s, "host", 4) == 0 ? k_host : NULL;
            break;
        case 10:
            key = memcmp(s, "user-agent", 10) == 0 ? k_user_agent : NULL;
            break;
        case 15:
            if (memcmp(s, "accept-language", 15) == 0) {
                /* the first one counts */
                if (PyDict_SetDefault(found, k_accept_language, value) == NULL) {
                    Py_XDECREF(cookies);
                    Py_DECREF(found);
                    return NULL;
                }
            }
            continue;
        case 7:
            key = memcmp(s, "sec-gpc", 7) == 0 ? k_sec_gpc : NULL;
            break;
        case 3:
            key = memcmp(s, "dnt", 3) == 0 ? k_dnt : NULL;
            break;
        default:
            continue;
        }
        if (key != NULL && PyDict_SetItem(found, key, value) < 0) {
            Py_XDECREF(cookies);
            Py_DECREF(found);
            return NULL;
        }
    }
    if (cookie != NULL) {
        int failed;
        if (cookies == NULL) {
            failed = PyDict_SetItem(found, k_cookie, cookie);
        }
        else {
            PyObject *joined = PyObject_CallMethod(cookie_sep, "join", "O", cookies);
            Py_DECREF(cookies);
            if (joined == NULL) {
                Py_DECREF(found);
                return NULL;
            }
            failed = PyDict_SetItem(found, k_cookie, joined);
            Py_DECREF(joined);
        }
        if (failed < 0) {
            Py_DECREF(found);
            return NULL;
        }
    }
    return found;
}

/* ASCII-only lower-case comparison of a header name with a lower-case literal. */
static int
name_is(PyObject *name, const char *lower, Py_ssize_t size)
{
    const unsigned char *s = (const unsigned char *)PyBytes_AS_STRING(name);
    for (Py_ssize_t i = 0; i < size; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z') {
            c += 'a' - 'A';
        }
        if (c != (unsigned char)lower[i]) {
            return 0;
        }
    }
    return 1;
}

/* read_response_headers(raw: list) -> (content_type | None, sets_cookies) | None
 *
 * Content-Type lines (any spelling) joined with ", " as Fetch reads them, and whether
 * any Set-Cookie line came. None when *raw* holds anything but pairs of bytes.
 */
static PyObject *
read_response_headers(PyObject *Py_UNUSED(module), PyObject *raw)
{
    if (!PyList_CheckExact(raw)) {
        Py_RETURN_NONE;
    }
    PyObject *content_type = NULL;
    int sets_cookies = 0;
    Py_ssize_t count = PyList_GET_SIZE(raw);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name, *value;
        if (!pair_of(PyList_GET_ITEM(raw, i), &name, &value)) {
            Py_XDECREF(content_type);
            Py_RETURN_NONE;
        }
        Py_ssize_t size = PyBytes_GET_SIZE(name);
        if (size == 12 && name_is(name, "content-type", 12)) {
            if (content_type == NULL) {
                Py_INCREF(value);
                content_type = value;
            }
            else {
                PyBytes_Concat(&content_type, list_sep);
                if (content_type != NULL) {
                    PyBytes_Concat(&content_type, value);
                }
                if (content_type == NULL) {
                    return NULL;
                }
            }
        }
        else if (size == 10 && name_is(name, "set-cookie", 10)) {
            sets_cookies = 1;
        }
    }
    PyObject *result = PyTuple_New(2);
    if (result == NULL) {
        Py_XDECREF(content_type);
        return NULL;
    }
    if (content_type == NULL) {
        content_type = Py_NewRef(Py_None);
    }
    PyTuple_SET_ITEM(result, 0, content_type);
    PyTuple_SET_ITEM(result, 1, Py_NewRef(sets_cookies ? Py_True : Py_False));
    return result;
}


/* ------------------------------------------------------------------------------------
 * Hooks into consentkit, set once by bind(): the Python twins to fall back on.
 */
static PyObject *request_fallback;  /* the pure-Python RequestInfo initialiser */
static PyObject *read_cookies;      /* (header, cookie_name, reads) -> CookieRead */
static PyObject *no_cookies;        /* the shared empty cookie mapping */
static PyObject *html_types;        /* Content-Type -> is HTML, as read so far (a dict) */
static PyObject *s_token, *s_cookies, *s_headers, *s_type, *s_start, *s_send_slow;
static PyObject *s_grants_all, *s_cookie_header, *empty_bytes;

static PyObject *
bind(PyObject *Py_UNUSED(module), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"request_fallback", "read_cookies", "no_cookies", "html_types",
                               NULL};
    PyObject *fallback = NULL, *reader = NULL, *empty = NULL, *types = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|$OOO!O!:bind", keywords, &fallback,
                                     &reader, &PyDict_Type, &empty, &PyDict_Type, &types)) {
        return NULL;
    }
    if ((fallback == NULL) != (reader == NULL) || (reader == NULL) != (empty == NULL)) {
        PyErr_SetString(PyExc_TypeError,
                        "bind: request_fallback, read_cookies and no_cookies come together");
        return NULL;
    }
    if (fallback != NULL) {
        Py_XSETREF(request_fallback, Py_NewRef(fallback));
        Py_XSETREF(read_cookies, Py_NewRef(reader));
        Py_XSETREF(no_cookies, Py_NewRef(empty));
    }
    if (types != NULL) {
        Py_XSETREF(html_types, Py_NewRef(types));
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------
 * RequestCore: the slots of consentkit.web.request.RequestInfo and its initialiser.
 * The usual request (a dict scope, a list of bytes pairs, a memo of Cookie readings)
 * is read here; anything else goes to the Python initialiser, which sets the same slots.
 */
typedef struct {
    PyObject_HEAD
    PyObject *scope, *cookie_name, *headers, *found, *cookie_header, *read, *consent_token,
        *cookies;
} RequestCore;

static int
request_traverse(RequestCore *self, visitproc visit, void *arg)
{
    Py_VISIT(self->scope);
    Py_VISIT(self->cookie_name);
    Py_VISIT(self->headers);
    Py_VISIT(self->found);
    Py_VISIT(self->cookie_header);
    Py_VISIT(self->read);
    Py_VISIT(self->consent_token);
    Py_VISIT(self->cookies);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
request_clear(RequestCore *self)
{
    Py_CLEAR(self->scope);
    Py_CLEAR(self->cookie_name);
    Py_CLEAR(self->headers);
    Py_CLEAR(self->found);
    Py_CLEAR(self->cookie_header);
    Py_CLEAR(self->read);
    Py_CLEAR(self->consent_token);
    Py_CLEAR(self->cookies);
    return 0;
}

static void
request_dealloc(RequestCore *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    request_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int
request_fall_back(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (request_fallback == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "consentkit_speedups: bind() was not called");
        return -1;
    }
    PyObject *all = PyTuple_New(PyTuple_GET_SIZE(args) + 1);
    if (all == NULL) {
        return -1;
    }
    PyTuple_SET_ITEM(all, 0, Py_NewRef(self));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args); i++) {
        PyTuple_SET_ITEM(all, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    }
    PyObject *done = PyObject_Call(request_fallback, all, kwargs);
    Py_DECREF(all);
    if (done == NULL) {
        return -1;
    }
    Py_DECREF(done);
    return 0;
}

static int
request_init(RequestCore *self, PyObject *args, PyObject *kwargs)
{
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    if ((kwargs != NULL && PyDict_GET_SIZE(kwargs)) || nargs != 3 || read_cookies == NULL) {
        return request_fall_back((PyObject *)self, args, kwargs);
    }
    PyObject *scope = PyTuple_GET_ITEM(args, 0);
    PyObject *cookie_name = PyTuple_GET_ITEM(args, 1);
    PyObject *reads = PyTuple_GET_ITEM(args, 2);
    if (!PyDict_CheckExact(scope) || !PyDict_Check(reads)) {
        return request_fall_back((PyObject *)self, args, kwargs);
    }
    PyObject *headers = PyDict_GetItemWithError(scope, s_headers);
    if (headers == NULL || !PyList_CheckExact(headers)) {
        if (PyErr_Occurred()) {
            return -1;
        }
        return request_fall_back((PyObject *)self, args, kwargs);
    }
    Py_INCREF(headers); /* held: reading a new Cookie header runs Python code */
    PyObject *found = read_request_headers(NULL, headers);
    if (found == NULL) {
        Py_DECREF(headers);
        return -1;
    }
    if (found == Py_None) {
        Py_DECREF(found);
        Py_DECREF(headers);
        return request_fall_back((PyObject *)self, args, kwargs);
    }
    PyObject *cookie = PyDict_GetItemWithError(found, k_cookie); /* borrowed */
    PyObject *read = NULL, *token = NULL, *cookies = NULL;
    if (cookie != NULL && PyBytes_GET_SIZE(cookie) > 0) {
        read = PyDict_GetItemWithError(reads, cookie);
        if (read != NULL) {
            Py_INCREF(read);
        }
        else if (PyErr_Occurred()) {
            goto fail;
        }
        else {
            read = PyObject_CallFunctionObjArgs(read_cookies, cookie, cookie_name, reads, NULL);
            if (read == NULL) {
                goto fail;
            }
        }
        token = PyObject_GetAttr(read, s_token);
        if (token == NULL) {
            goto fail;
        }
        cookies = PyObject_GetAttr(read, s_cookies);
        if (cookies == NULL) {
            goto fail;
        }
        Py_INCREF(cookie);
    }
    else if (PyErr_Occurred()) {
        goto fail;
    }
    else {
        cookie = Py_NewRef(empty_bytes);
        read = Py_NewRef(Py_None);
        token = Py_NewRef(Py_None);
        cookies = Py_NewRef(no_cookies);
    }
    Py_XSETREF(self->scope, Py_NewRef(scope));
    Py_XSETREF(self->cookie_name, Py_NewRef(cookie_name));
    Py_XSETREF(self->headers, headers);
    Py_XSETREF(self->found, found);
    Py_XSETREF(self->cookie_header, cookie);
    Py_XSETREF(self->read, read);
    Py_XSETREF(self->consent_token, token);
    Py_XSETREF(self->cookies, cookies);
    return 0;
fail:
    Py_DECREF(headers);
    Py_DECREF(found);
    Py_XDECREF(read);
    Py_XDECREF(token);
    return -1;
}

static PyMemberDef request_members[] = {
    {"scope", T_OBJECT_EX, offsetof(RequestCore, scope), 0, NULL},
    {"cookie_name", T_OBJECT_EX, offsetof(RequestCore, cookie_name), 0, NULL},
    {"headers", T_OBJECT_EX, offsetof(RequestCore, headers), 0, NULL},
    {"found", T_OBJECT_EX, offsetof(RequestCore, found), 0, NULL},
    {"cookie_header", T_OBJECT_EX, offsetof(RequestCore, cookie_header), 0, NULL},
    {"read", T_OBJECT_EX, offsetof(RequestCore, read), 0, NULL},
    {"consent_token", T_OBJECT_EX, offsetof(RequestCore, consent_token), 0, NULL},
    {"_cookies", T_OBJECT_EX, offsetof(RequestCore, cookies), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyType_Slot request_slots[] = {
    {Py_tp_doc, "The slots of a request and the compiled reading of the usual one."},
    {Py_tp_init, request_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, request_dealloc},
    {Py_tp_traverse, request_traverse},
    {Py_tp_clear, request_clear},
    {Py_tp_members, request_members},
    {0, NULL},
};

static PyType_Spec request_spec = {
    .name = "consentkit_speedups.RequestCore",
    .basicsize = sizeof(RequestCore),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = request_slots,
};

/* ------------------------------------------------------------------------------------
 * ResponderCore: the slots of consentkit.web.responder.Responder and its ``send`` for
 * the common case: a response whose start goes out untouched (not HTML, no Set-Cookie,
 * no refused cookie to expire) and the messages after it. Everything else is
 * ``self._send_slow(message)``, in Python.
 */
typedef struct {
    PyObject_HEAD
    PyObject *send, *decision, *editor, *request, *rules, *start;
    char untouched, open, started;
} ResponderCore;

static int
responder_traverse(ResponderCore *self, visitproc visit, void *arg)
{
    Py_VISIT(self->send);
    Py_VISIT(self->decision);
    Py_VISIT(self->editor);
    Py_VISIT(self->request);
    Py_VISIT(self->rules);
    Py_VISIT(self->start);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
responder_clear(ResponderCore *self)
{
    Py_CLEAR(self->send);
    Py_CLEAR(self->decision);
    Py_CLEAR(self->editor);
    Py_CLEAR(self->request);
    Py_CLEAR(self->rules);
    Py_CLEAR(self->start);
    return 0;
}

static void
responder_dealloc(ResponderCore *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    responder_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static int
responder_init(ResponderCore *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"rules", "request", "decision", "send", NULL};
    PyObject *rules, *request, *decision, *send;
    if (kwargs == NULL && PyTuple_GET_SIZE(args) == 4) {
        rules = PyTuple_GET_ITEM(args, 0);
        request = PyTuple_GET_ITEM(args, 1);
        decision = PyTuple_GET_ITEM(args, 2);
        send = PyTuple_GET_ITEM(args, 3);
    }
    else if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOOO:Responder", keywords, &rules,
                                          &request, &decision, &send)) {
        return -1;
    }
    Py_XSETREF(self->rules, Py_NewRef(rules));
    Py_XSETREF(self->request, Py_NewRef(request));
    Py_XSETREF(self->decision, Py_NewRef(decision));
    Py_XSETREF(self->send, Py_NewRef(send));
    Py_XSETREF(self->editor, Py_NewRef(Py_None));
    Py_XSETREF(self->start, Py_NewRef(Py_None));
    self->started = 0;
    self->untouched = 0;
    self->open = 1;
    return 0;
}

/* 1 when the start *message* surely leaves as the app wrote it, 0 when Python decides
 * (read_response), -1 on error. */
static int
start_untouched(ResponderCore *self, PyObject *message)
{
    PyObject *raw = PyDict_GetItemWithError(message, s_headers);
    if (raw == NULL || !PyList_CheckExact(raw) || html_types == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *reading = read_response_headers(NULL, raw);
    if (reading == NULL) {
        return -1;
    }
    if (reading == Py_None) {
        Py_DECREF(reading);
        return 0;
    }
    PyObject *content_type = PyTuple_GET_ITEM(reading, 0);
    int quiet = PyTuple_GET_ITEM(reading, 1) == Py_False && content_type != Py_None;
    if (quiet) {
        /* only a type already known not to be HTML (a miss is Python's to read) */
        PyObject *is_html = PyDict_GetItemWithError(html_types, content_type);
        quiet = is_html == Py_False;
    }
    Py_DECREF(reading);
    if (!quiet) {
        return PyErr_Occurred() ? -1 : 0;
    }
    /* cookies to expire: only when some came and the decision does not grant all */
    PyObject *cookie_header = PyObject_GetAttr(self->request, s_cookie_header);
    if (cookie_header == NULL) {
        return -1;
    }
    int sent = PyObject_IsTrue(cookie_header);
    Py_DECREF(cookie_header);
    if (sent <= 0) {
        return sent < 0 ? -1 : 1;
    }
    PyObject *grants_all = PyObject_GetAttr(self->decision, s_grants_all);
    if (grants_all == NULL) {
        return -1;
    }
    int all = PyObject_IsTrue(grants_all);
    Py_DECREF(grants_all);
    return all;
}

static PyObject *
responder_send(ResponderCore *self, PyObject *message)
{
    if (self->untouched) {
        /* the common case: the message is the server's to send */
        self->open = 0;
        return PyObject_CallOneArg(self->send, message);
    }
    if (self->start == Py_None && PyDict_CheckExact(message)) {
        PyObject *kind = PyDict_GetItemWithError(message, s_type);
        if (kind != NULL && PyUnicode_CheckExact(kind)
            && (kind == s_start || PyUnicode_Compare(kind, s_start) == 0)) {
            int untouched = start_untouched(self, message);
            if (untouched < 0) {
                return NULL;
            }
            if (untouched) {
                Py_SETREF(self->start, Py_NewRef(message));
                self->untouched = self->started = 1;
                return PyObject_CallOneArg(self->send, message);
            }
        }
        else if (PyErr_Occurred()) {
            return NULL;
        }
    }
    return PyObject_CallMethodOneArg((PyObject *)self, s_send_slow, message);
}

static PyMemberDef responder_members[] = {
    {"_send", T_OBJECT_EX, offsetof(ResponderCore, send), 0, NULL},
    {"decision", T_OBJECT_EX, offsetof(ResponderCore, decision), 0, NULL},
    {"editor", T_OBJECT_EX, offsetof(ResponderCore, editor), 0, NULL},
    {"request", T_OBJECT_EX, offsetof(ResponderCore, request), 0, NULL},
    {"rules", T_OBJECT_EX, offsetof(ResponderCore, rules), 0, NULL},
    {"start", T_OBJECT_EX, offsetof(ResponderCore, start), 0, NULL},
    {"_untouched", T_BOOL, offsetof(ResponderCore, untouched), 0, NULL},
    {"open", T_BOOL, offsetof(ResponderCore, open), 0, NULL},
    {"started", T_BOOL, offsetof(ResponderCore, started), 0, NULL},
    {NULL, 0, 0, 0, NULL},
};

static PyMethodDef responder_methods[] = {
    {"send", (PyCFunction)responder_send, METH_O, "The ``send`` the app gets."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot responder_slots[] = {
    {Py_tp_doc, "The slots of a responder and its compiled ``send`` for untouched responses."},
    {Py_tp_init, responder_init},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_dealloc, responder_dealloc},
    {Py_tp_traverse, responder_traverse},
    {Py_tp_clear, responder_clear},
    {Py_tp_members, responder_members},
    {Py_tp_methods, responder_methods},
    {0, NULL},
};

static PyType_Spec responder_spec = {
    .name = "consentkit_speedups.ResponderCore",
    .basicsize = sizeof(ResponderCore),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .slots = responder_slots,
};

static PyMethodDef methods[] = {
    {"read_request_headers", read_request_headers, METH_O,
     "The request headers consentkit reads, by name; None for shapes left to Python."},
    {"read_response_headers", read_response_headers, METH_O,
     "(Content-Type lines joined, whether Set-Cookie came); None for shapes left to Python."},
    {"bind", (PyCFunction)(void (*)(void))bind, METH_VARARGS | METH_KEYWORDS,
     "Give the module consentkit's Python twins and shared tables (once, at import)."},
    {NULL, NULL, 0, NULL},
};

static int
speedups_exec(PyObject *module)
{
    struct { PyObject **slot; const char *text; } names[] = {
        {&k_cookie, "cookie"}, {&k_host, "host"}, {&k_user_agent, "user-agent"},
        {&k_accept_language, "accept-language"}, {&k_sec_gpc, "sec-gpc"}, {&k_dnt, "dnt"},
        {&cookie_sep, "; "}, {&list_sep, ", "}, {&empty_bytes, ""},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (*names[i].slot == NULL) {
            *names[i].slot = PyBytes_FromString(names[i].text);
            if (*names[i].slot == NULL) {
                return -1;
            }
            (void)PyObject_Hash(*names[i].slot);
        }
    }
    struct { PyObject **slot; const char *text; } strings[] = {
        {&s_token, "token"}, {&s_cookies, "cookies"}, {&s_headers, "headers"},
        {&s_type, "type"}, {&s_start, "http.response.start"}, {&s_send_slow, "_send_slow"},
        {&s_grants_all, "grants_all"}, {&s_cookie_header, "cookie_header"},
    };
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        if (*strings[i].slot == NULL) {
            *strings[i].slot = PyUnicode_InternFromString(strings[i].text);
            if (*strings[i].slot == NULL) {
                return -1;
            }
        }
    }
    PyObject *request_type = PyType_FromModuleAndSpec(module, &request_spec, NULL);
    if (request_type == NULL || PyModule_AddObject(module, "RequestCore", request_type) < 0) {
        Py_XDECREF(request_type);
        return -1;
    }
    PyObject *responder_type = PyType_FromModuleAndSpec(module, &responder_spec, NULL);
    if (responder_type == NULL
        || PyModule_AddObject(module, "ResponderCore", responder_type) < 0) {
        Py_XDECREF(responder_type);
        return -1;
    }
    return PyModule_AddIntConstant(module, "API", SPEEDUPS_API);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, speedups_exec},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "consentkit_speedups",
    .m_doc = "Optional compiled versions of consentkit's per-request header loops.",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC
PyInit_consentkit_speedups(void)
{
    return PyModuleDef_Init(&module_def);
}
