// D-Bus server addresses (DBUS_SESSION_BUS_ADDRESS), as far as the sandbox
// cares: which socket files to hide, and which addresses it cannot hide.
// Format (D-Bus specification, "Server Addresses"):
//   transport:key=value,key=value;transport:…   values %-escaped
// A client tries the entries in order, so every one of them must be covered.

export interface BusAddressParts {
  /** Socket files (unix:path=…). */
  paths: string[];
  /** Entries a mount namespace cannot hide: abstract sockets and TCP live in the network namespace. */
  unreachable: string[];
}

export function parseBusAddress(address: string): BusAddressParts {
  const result: BusAddressParts = { paths: [], unreachable: [] };
  for (const entry of address.split(';')) {
    const colon = entry.indexOf(':');
    if (colon <= 0) continue;
    const transport = entry.slice(0, colon);
    const keys = new Map<string, string>();
    for (const pair of entry.slice(colon + 1).split(',')) {
      const eq = pair.indexOf('=');
      if (eq > 0) keys.set(pair.slice(0, eq), unescapeValue(pair.slice(eq + 1)));
    }
    if (transport === 'unix') {
      const path = keys.get('path');
      if (path !== undefined) result.paths.push(path);
      else if (keys.has('abstract')) result.unreachable.push(entry);
      // runtime=yes is $XDG_RUNTIME_DIR/bus, hidden with the runtime folder;
      // tmpdir= and dir= are listening addresses only, never given to clients.
    } else if (transport === 'tcp' || transport === 'nonce-tcp' || transport === 'unixexec') {
      result.unreachable.push(entry);
    }
    // launchd: and autolaunch: name no endpoint of their own here.
  }
  return result;
}

function unescapeValue(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
