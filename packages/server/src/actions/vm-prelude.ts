/**
 * JavaScript evaluated inside QuickJS before an Action's module (the profile scripts' prelude core
 * plus Auth0's Actions programming model). It installs `fetch`, `console` and a `require` that
 * explains packages cannot be loaded, and hands back `run`, `deliver` and `describe`.
 *
 * `run(exports, handler, inputJson)` calls `exports[handler](event, api)` and waits for its
 * promise. The `api` object does nothing by itself: each call is recorded as a command
 * (`['accessToken.setCustomClaim', name, valueJson]`...) and the list travels back as JSON when
 * the handler's promise settles; the host checks and applies the commands (claims, deny, metadata,
 * cache). Values are turned into JSON at the call, so a value that cannot be (a cycle, a BigInt)
 * throws in the Action where the admin can see it.
 */
import { PRELUDE_CORE } from '../connections/sandbox/vm-prelude.js';

export const ACTION_PRELUDE =
  `(function (hostRequest, hostDone, hostLog) {
${PRELUDE_CORE}` +
  String.raw`
  var pending = Object.create(null);
  var commands = [];
  var PromiseOf = Promise;
  var isArray = Array.isArray;

  function fetchHeaders(headers) {
    if (headers === undefined || headers === null) return undefined;
    var result = {};
    if (isArray(headers)) {
      for (var i = 0; i < headers.length; i++) result[StringOf(headers[i][0])] = StringOf(headers[i][1]);
      return result;
    }
    return assign(result, headers);
  }

  // The WHATWG fetch the Actions runtime has, over the host's request: string or { url } input,
  // method/headers/body, redirect ('follow' by default). The response body is read by the host
  // (size-limited) before the promise resolves, so text() and json() only parse it.
  function fetch(input, init) {
    init = init || {};
    var url = typeof input === 'string' ? input : input !== null && typeof input === 'object' ? input.url || input.href : input;
    var spec = stringify({
      method: init.method || 'GET',
      uri: typeof url === 'string' ? url : StringOf(url),
      headers: fetchHeaders(init.headers),
      body: init.body === undefined || init.body === null ? undefined : StringOf(init.body),
      followRedirect: init.redirect !== 'manual',
      followAllRedirects: init.redirect !== 'manual'
    });
    return new PromiseOf(function (resolve, reject) {
      var id = nextRequestId++;
      pending[id] = { resolve: resolve, reject: reject };
      hostRequest(id, spec);
    });
  }

  function responseOf(response) {
    var headers = response.headers || {};
    var body = response.body;
    return {
      ok: response.statusCode >= 200 && response.statusCode < 300,
      status: response.statusCode,
      statusText: response.statusMessage,
      headers: {
        get: function (name) {
          var value = headers[StringOf(name).toLowerCase()];
          return value === undefined ? null : isArray(value) ? value.join(', ') : value;
        },
        has: function (name) {
          return headers[StringOf(name).toLowerCase()] !== undefined;
        }
      },
      text: function () {
        return PromiseOf.resolve(body);
      },
      json: function () {
        return new PromiseOf(function (resolve) {
          resolve(parse(body));
        });
      }
    };
  }

  function deliver(id, resultJson) {
    var entry = pending[id];
    delete pending[id];
    if (!entry) return;
    var result = parse(resultJson);
    if (result.error) {
      entry.reject(hostError(result.error));
      return;
    }
    entry.resolve(responseOf(result.response));
  }

  function json(value, what) {
    var text;
    try {
      text = stringify(value);
    } catch (e) {
      throw new TypeError(what + ' must be JSON: ' + parse(describe(e)).message);
    }
    return text === undefined ? 'null' : text;
  }

  function record(name) {
    commands.push(Array.prototype.slice.call(arguments));
  }

  function unsupported(what) {
    return function () {
      throw new ErrorOf(what + ' is not supported by latchkey');
    };
  }

  // api.cache: a snapshot of this Action's entries comes in with the event; writes are commands.
  function cacheApi(entries, now) {
    return {
      get: function (key) {
        var entry = entries[StringOf(key)];
        if (!entry || entry.expires_at <= now) return undefined;
        return { value: entry.value, expires_at: entry.expires_at };
      },
      set: function (key, value, options) {
        key = StringOf(key);
        value = StringOf(value);
        var ttl = options && typeof options.ttl === 'number' ? options.ttl : 15 * 60 * 1000;
        var expires = options && typeof options.expires_at === 'number' ? options.expires_at : now + ttl;
        var entry = { value: value, expires_at: expires };
        entries[key] = entry;
        record('cache.set', key, value, expires);
        return { type: 'success', record: entry };
      },
      delete: function (key) {
        key = StringOf(key);
        var entry = entries[key];
        delete entries[key];
        record('cache.delete', key);
        return { type: 'success', record: entry };
      }
    };
  }

  function claims(target, api) {
    return function (name, value) {
      record(target + '.setCustomClaim', StringOf(name), json(value, 'the value of claim ' + StringOf(name)));
      return api;
    };
  }

  function metadata(kind, api) {
    return function (name, value) {
      record('user.' + kind, StringOf(name), value === undefined ? 'null' : json(value, kind + ' ' + StringOf(name)));
      return api;
    };
  }

  function apiFor(trigger, cache) {
    var api = {};
    api.cache = cache;
    if (trigger === 'post-login') {
      api.idToken = { setCustomClaim: claims('idToken', api) };
      api.accessToken = {
        setCustomClaim: claims('accessToken', api),
        addScope: function (scope) { record('accessToken.addScope', StringOf(scope)); return api; },
        removeScope: function (scope) { record('accessToken.removeScope', StringOf(scope)); return api; }
      };
      api.access = { deny: function (reason) { record('access.deny', 'access_denied', StringOf(reason)); return api; } };
      api.user = { setAppMetadata: metadata('setAppMetadata', api), setUserMetadata: metadata('setUserMetadata', api) };
      api.redirect = {
        sendUserTo: unsupported('api.redirect.sendUserTo'),
        encodeToken: unsupported('api.redirect.encodeToken'),
        validateToken: unsupported('api.redirect.validateToken')
      };
      api.multifactor = { enable: unsupported('api.multifactor.enable') };
    } else if (trigger === 'credentials-exchange') {
      api.accessToken = { setCustomClaim: claims('accessToken', api) };
      api.access = {
        deny: function (code, reason) { record('access.deny', StringOf(code), StringOf(reason)); return api; }
      };
    } else if (trigger === 'pre-user-registration') {
      api.access = {
        deny: function (reason, userMessage) {
          record('access.deny', 'access_denied', StringOf(reason), userMessage === undefined ? undefined : StringOf(userMessage));
          return api;
        }
      };
      api.user = { setAppMetadata: metadata('setAppMetadata', api), setUserMetadata: metadata('setUserMetadata', api) };
    }
    return api;
  }

  globalThis.fetch = fetch;
  globalThis.require = function (name) {
    throw new ErrorOf('Actions cannot load packages in latchkey: require(' + stringify(StringOf(name)) + ')');
  };

  // Called once per run, in a context that may have served earlier runs of the same code.
  function run(exportsObject, handlerName, inputJson) {
    finished = false;
    commands = [];
    var input = parse(inputJson);
    var handler = exportsObject !== null && exportsObject !== undefined ? exportsObject[handlerName] : undefined;
    if (typeof handler !== 'function') {
      finish('result', stringify({ skipped: true, commands: [] }));
      return;
    }
    var api = apiFor(input.trigger, cacheApi(input.cache || {}, input.now));
    var returned = handler(input.event, api);
    PromiseOf.resolve(returned).then(
      function () {
        finish('result', stringify({ commands: commands }));
      },
      function (e) {
        finish('thrown', describe(e));
      }
    );
  }

  return { run: run, deliver: deliver, describe: describe };
})`;
