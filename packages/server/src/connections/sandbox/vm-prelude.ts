/**
 * The part of every prelude that does not depend on the program: captured built-ins, `describe`
 * (one JSON description of anything thrown), `finish` (the first result wins) and `console`.
 * Spliced into the body of each prelude's function, whose parameters are
 * `(hostRequest, hostDone, hostLog)`.
 */
export const PRELUDE_CORE = String.raw`  'use strict';
  var parse = JSON.parse;
  var stringify = JSON.stringify;
  var defineProperty = Object.defineProperty;
  var keys = Object.keys;
  var StringOf = String;
  var ErrorOf = Error;
  var FROM_HOST = Symbol('request error');
  var nextRequestId = 1;
  var finished = false;

  // The error a failed host request (fetch, request) rejects with, marked as the host's.
  function hostError(failure) {
    var error = new ErrorOf(failure.message);
    if (failure.code) error.code = failure.code;
    defineProperty(error, FROM_HOST, { value: true });
    return error;
  }

  function assign(target, source) {
    var names = keys(source);
    for (var i = 0; i < names.length; i++) target[names[i]] = source[names[i]];
    return target;
  }

  // One JSON description of anything thrown or passed to callback(err). QuickJS throws an
  // InternalError 'out of memory' when an allocation fails against the runtime's limit, and null
  // when even that error cannot be allocated: a thrown null counts as running out of memory.
  function describe(error) {
    var memory = false, request = false, message;
    try {
      if (error === null) {
        memory = true;
        message = 'null';
      } else if (typeof error === 'object' || typeof error === 'function') {
        var name = error.name, text = error.message;
        memory = name === 'InternalError' && text === 'out of memory';
        request = error[FROM_HOST] === true;
        if (typeof text === 'string') {
          message = typeof name === 'string' && name !== '' && name !== 'Error' ? name + ': ' + text : text;
        } else {
          message = StringOf(error);
        }
      } else {
        message = StringOf(error);
      }
    } catch (e) {
      message = 'an error that could not be read';
    }
    return stringify({ message: StringOf(message).slice(0, 2000), memory: memory, request: request });
  }

  function finish(kind, payload) {
    if (finished) return;
    finished = true;
    hostDone(kind, payload);
  }

  function format(args) {
    var parts = [];
    for (var i = 0; i < args.length; i++) {
      var value = args[i];
      if (typeof value === 'string') {
        parts.push(value);
        continue;
      }
      try {
        var json = stringify(value);
        parts.push(json === undefined ? StringOf(value) : json);
      } catch (e) {
        parts.push('[unprintable]');
      }
    }
    return parts.join(' ');
  }
  function logger() {
    return function () {
      hostLog(format(arguments));
    };
  }

  globalThis.console = { log: logger(), info: logger(), warn: logger(), error: logger(), debug: logger() };
`;

/**
 * JavaScript evaluated inside QuickJS before the admin's script. It evaluates to a function the
 * worker calls once with three host functions; it installs the `request` and `console` globals
 * and hands back `run`, `deliver` and `describe`, so nothing of the host is reachable by name.
 *
 * Host functions only ever receive strings and numbers: options, profiles and errors are turned
 * into JSON here, with `JSON` captured before the script runs so the script cannot swap it out.
 * The script can still break its own `request` (it runs in the same realm), but whatever it sends
 * is treated by the host as untrusted text.
 *
 * `request` follows the `request` npm library's callback API, which Auth0 scripts are written
 * against: `request(uri | options, [options], cb)`, `request.get/post/put/patch/del/head(...)`,
 * and `cb(err, response, body)` with `body` parsed as JSON when `json` is set.
 */
export const VM_PRELUDE =
  `(function (hostRequest, hostDone, hostLog) {
${PRELUDE_CORE}` +
  String.raw`  var callbacks = Object.create(null);

  // Auth0's callback(err, profile): the first call wins, later ones are ignored.
  function callback(error, profile) {
    if (finished) return;
    if (error) return finish('error', describe(error));
    var json;
    try {
      json = stringify(profile);
    } catch (e) {
      return finish('invalid', 'the profile could not be turned into JSON: ' + parse(describe(e)).message);
    }
    finish('profile', json === undefined ? '' : json);
  }

  function initParams(uri, options, cb) {
    if (typeof options === 'function') {
      cb = options;
      options = undefined;
    }
    var params = {};
    if (options !== null && typeof options === 'object') {
      assign(params, options);
      params.uri = uri;
    } else if (typeof uri === 'string') {
      params.uri = uri;
    } else if (uri !== null && typeof uri === 'object') {
      assign(params, uri);
    }
    if (typeof cb === 'function') params.callback = cb;
    return params;
  }

  function send(params, method) {
    var uri = params.uri !== undefined ? params.uri : params.url;
    if (uri !== null && typeof uri === 'object' && typeof uri.href === 'string') uri = uri.href;
    var spec = stringify({
      method: method || params.method || 'GET',
      uri: uri,
      baseUrl: params.baseUrl,
      headers: params.headers,
      qs: params.qs,
      body: params.body,
      form: params.form,
      json: params.json,
      auth: params.auth,
      timeout: params.timeout,
      followRedirect: params.followRedirect,
      followAllRedirects: params.followAllRedirects
    });
    var id = nextRequestId++;
    if (typeof params.callback === 'function') callbacks[id] = { cb: params.callback, json: !!params.json };
    hostRequest(id, spec);
  }

  function request(uri, options, cb) {
    send(initParams(uri, options, cb));
  }
  function verb(method) {
    return function (uri, options, cb) {
      send(initParams(uri, options, cb), method);
    };
  }
  request.get = verb('GET');
  request.post = verb('POST');
  request.put = verb('PUT');
  request.patch = verb('PATCH');
  request.head = verb('HEAD');
  request.del = verb('DELETE');
  request['delete'] = verb('DELETE');

  function deliver(id, resultJson) {
    var entry = callbacks[id];
    delete callbacks[id];
    if (!entry) return;
    var result = parse(resultJson);
    if (result.error) {
      entry.cb(hostError(result.error));
      return;
    }
    var response = result.response;
    if (entry.json && typeof response.body === 'string' && response.body !== '') {
      try {
        response.body = parse(response.body);
      } catch (e) {
        // As the request library does: a body that is not JSON stays a string.
      }
    }
    entry.cb(null, response, response.body);
  }

  globalThis.request = request;

  function run(fetchUserProfile, accessToken, contextJson) {
    if (typeof fetchUserProfile !== 'function') {
      throw new TypeError('the script does not define a fetchUserProfile function');
    }
    var returned = fetchUserProfile(accessToken, parse(contextJson), callback);
    // An async fetchUserProfile that throws rejects its promise instead.
    if (returned !== null && typeof returned === 'object' && typeof returned.then === 'function') {
      returned.then(undefined, function (e) {
        finish('thrown', describe(e));
      });
    }
  }

  return { run: run, deliver: deliver, describe: describe };
})`;
