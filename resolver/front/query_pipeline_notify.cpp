// NOTIFY (RFC 1996) on the client listeners: handed to the RPZ feed,
// answered here, and never seen by the cache or the walker.
#include "resolver/front/query_pipeline.h"
#include "wire/message_builder.h"

namespace sextant::resolver {

void QueryPipeline::answer_notify(const Client& c, const transports::Request& request,
                                  transports::Responder& responder) {
  // RFC 1996 §3.7: the question is the zone's SOA.
  const bool accepted = settings_.notify && c.qtype == wire::RRType::SOA && c.qclass == wire::RRClass::IN &&
                        settings_.notify->notify(request.peer, c.qname);
  if (!accepted) stats_.refused.fetch_add(1, std::memory_order_relaxed);
  wire::MessageBuilder b(buffer_, c.limit);
  b.header() = wire::response_header_for(c.query_header);  // keeps the NOTIFY opcode
  b.header().set_aa(accepted);
  b.add_question(c.qname, c.qtype, c.qclass);
  b.set_rcode(accepted ? wire::Rcode::NOERROR : wire::Rcode::REFUSED);
  send(c, responder, b.finish());
}

}  // namespace sextant::resolver
