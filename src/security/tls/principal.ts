import type { X509Certificate } from 'node:crypto';

/**
 * Kafka's principal for a client certificate under ssl.principal.mapping.rules=DEFAULT:
 * "User:" and the subject's distinguished name in RFC 2253 form, most specific attribute first
 * (CN=alice,OU=eng,O=acme). Node lists the subject's attributes in certificate order, one a
 * line, already escaped as RFC 2253 asks, and joins a multi-valued attribute with " + ".
 */
export function certificatePrincipal(certificate: X509Certificate): string {
  const attributes = certificate.subject.split('\n').filter((a) => a !== '');
  return `User:${attributes.reverse().map((a) => a.replace(/ \+ /g, '+')).join(',')}`;
}
